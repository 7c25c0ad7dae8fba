# Custom executors check their own config; the problems still point here.
workflow w {
  retry {
    call APIFetcher as fetch-data {
      input: key = source
      config: { maxRetries: 3, backoff: "linear" }
    }
  }
}
