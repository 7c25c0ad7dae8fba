# The seed's document pipeline in troupe's WDL-style language: it compiles to exactly
# pipeline.json beside it (`troupe compile examples/document-processing/pipeline.wdl`).
workflow document-processing {
  input { files, notify }

  # Classify each page by its text, five at a time.
  scatter (file in files) {
    call FileProcessor as process-files {
      input: path = file.path, text = file.text
      config: { maxParallel: 5, batchSize: 100 }
    }
  }

  # One consolidation per document type.
  gather (page in process-files.outputs) groupBy: page.documentType {
    call Consolidator as consolidate {
      input: group = gather.group
      config: { timeout: 30000, minResults: 1 }
    }
  }

  # The same summary to every notifier, and where to deliver it (`notify.webhookUrl`,
  # if the input names one and the manifest grants it: see notify.toml).
  broadcast as notify-all {
    config: { waitForAll: true }
    call EmailNotifier { input: result = consolidate.output, notify = notify }
    call SlackNotifier { input: result = consolidate.output, notify = notify }
    call WebhookNotifier { input: result = consolidate.output, notify = notify }
  }

  # Three branches over the pages and the groups.
  parallel as parallel-processing {
    input: data = { pages: process-files.outputs, groups: consolidate.output }
    branch extract: call DataExtractor { input: pages = data.pages }
    branch validate: call Validator { input: pages = data.pages }
    branch transform: call Transformer { input: groups = data.groups }
  }
}
