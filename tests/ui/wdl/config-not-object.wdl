workflow w {
  retry {
    call APIFetcher { config: 3 }
  }
}
