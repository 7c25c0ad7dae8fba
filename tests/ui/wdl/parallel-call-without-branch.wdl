workflow w {
  parallel {
    branch extract: call DataExtractor
    call Validator
  }
}
