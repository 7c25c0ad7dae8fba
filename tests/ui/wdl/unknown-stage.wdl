workflow w {
  call FileProcessor
  call Consolidator { input: pages = FileProcesor.output }
}
