workflow w {
  scatter (file in files) {
    call Pass { config: { maxParallel = 5 } }
  }
}
