workflow w {
  call Pass {
    input: a = trigger.a
    config: { toleratedFailures: 1 }
    input: b = trigger.b
  }
}
