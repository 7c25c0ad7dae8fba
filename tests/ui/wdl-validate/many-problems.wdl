workflow w {
  scatter (file in files) {
    call FileProcesor as process-files { input: path = file.path }
  }
  gatherr (page in process-files.outputs) {
    call Consolidator
  }
  broadcast as notify {
    call EmailNotifier
    call Telegraph
  }
}
