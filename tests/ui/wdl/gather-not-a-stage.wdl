workflow w {
  call FileProcessor
  gather (page in files) groupBy: page.documentType {
    call Consolidator { input: group = gather.group }
  }
}
