workflow w {
  scatter (file in files) {
    call FileProcesor as process-files { input: path = file.path, text = file.text }
  }
}
