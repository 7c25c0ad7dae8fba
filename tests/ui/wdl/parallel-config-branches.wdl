workflow w {
  parallel {
    config: { branches: [] }
    branch a: call Pass
  }
}
