workflow w {
  scatter (file in files) { call FileProcessor }
  gather (page in FileProcessor.outputs) groupBy: page.documentType {
    call Consolidator { input: page = page.text }
  }
}
