workflow w {
  scatter (file in files) {
    call Pass { input: path = file.path }
  }
