workflow w {
  scatter (index in files) {
    call Pass { input: n = index }
  }
}
