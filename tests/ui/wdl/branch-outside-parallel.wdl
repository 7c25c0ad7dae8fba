workflow w {
  branch extract: call DataExtractor
}
