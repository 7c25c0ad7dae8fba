workflow w {
  retry {
    call APIFetcher { config: { maxRetries: 3, backoff: "fixed", maxRetries: 5 } }
  }
}
