workflow w {
  scatter (file in files) {
    call FileProcessor { input: file.path }
  }
}
