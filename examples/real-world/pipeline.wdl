# The seed's "Real-World Example" in the WDL-style language: two custom executors, retry
# and circuit-breaker, reached by the generic form `MODE { call ... }` (no parser change
# for custom modes). It compiles to exactly pipeline.json beside it.
workflow real-world {
  input { source failures }

  # APIFetcher (the Flaky actor) fails `failures` times for a key, then succeeds.
  retry {
    call APIFetcher as fetch-data {
      input: key = source, failures = failures, source = source
      config: { maxRetries: 3, backoff: "exponential" }
    }
  }

  circuit-breaker {
    call DataProcessor as process {
      input: fetched = fetch-data.output.source
      config: { threshold: 5, timeout: 10000 }
    }
  }
}
