workflow w {
  retry call APIFetcher
}
