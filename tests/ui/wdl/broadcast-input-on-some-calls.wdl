workflow w {
  call Consolidator
  # Inputs on the calls must be on every call (or once on the block).
  broadcast {
    call EmailNotifier { input: result = Consolidator.output }
    call SlackNotifier
  }
}
