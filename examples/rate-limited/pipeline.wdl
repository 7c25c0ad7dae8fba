# The seed's RateLimitedExecutor stage in the WDL-style language: a custom mode with the
# scatter header, `MODE (item in items) { call ... }`. Compiles to pipeline.json beside it.
workflow rate-limited {
  input { requests }

  rate-limited (request in requests) {
    call APIClient as api-calls {
      input: url = request.url
      config: { rateLimit: 10 }
    }
  }
}
