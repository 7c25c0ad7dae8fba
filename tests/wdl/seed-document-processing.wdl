# The seed's "Usage in WDL-style DSL" example, verbatim (tests/suite/wdl_compile.rs).
workflow DocumentProcessing {
  # Scatter with parallelism limit
  scatter (file in files) {
    call FileProcessor {
      input: filepath = file.path
      config: {
        maxParallel: 5
      }
    }
  }
  
  # Gather with grouping
  gather (page in FileProcessor.outputs) groupBy: page.documentType {
    call Consolidator {
      input: pages = gather.group.items
      config: {
        timeout: 30000
      }
    }
  }
  
  # Broadcast
  broadcast {
    call EmailNotifier { input: result = Consolidator.output }
    call SlackNotifier { input: result = Consolidator.output }
    call WebhookNotifier { input: result = Consolidator.output }
  }
  
  # Fork-Join
  parallel {
    branch extract: call DataExtractor
    branch validate: call Validator
    branch transform: call Transformer
  }
}
