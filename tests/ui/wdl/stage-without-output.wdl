workflow w {
  call FileProcessor
  call Consolidator { input: pages = FileProcessor }
}
