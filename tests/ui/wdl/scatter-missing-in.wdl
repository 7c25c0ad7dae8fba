workflow w {
  scatter (file files) {
    call Pass
  }
}
