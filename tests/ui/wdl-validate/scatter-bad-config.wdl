workflow w {
  scatter (file in files) {
    call Pass as fan-out {
      input: path = file.path
      config: { maxParallel: 0, batchSize: "100" }
    }
  }
}
