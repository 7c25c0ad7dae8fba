workflow w {
  scatter (file in files) {
    call FileProcessor { input: path = file.path }
    call Pass { input: path = file.path }
  }
}
