workflow w {
  scatter (n in [1, 2, 3]) {
    call Pass { input: n = n }
  }
}
