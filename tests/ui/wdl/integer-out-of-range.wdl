workflow w {
  retry {
    call Pass { config: { maxRetries: 12345678901234567890123456789012345678 } }
  }
}
