workflow w {
  scatter (file in files) { call FileProcessor }
  gather (page in FileProcessor.outputs) groupBy: file.documentType {
    call Consolidator { input: group = gather.group }
  }
}
