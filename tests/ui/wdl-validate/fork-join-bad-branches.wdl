workflow w {
  parallel as parallel-processing {
    input: data = trigger
    branch extract: call DataExtractr { input: source = data.source }
    branch extract: call Pass
  }
}
