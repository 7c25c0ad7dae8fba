workflow w {
  call Consolidator
  broadcast {
    call EmailNotifier { input: result = Consolidator.output }
    call SlackNotifier { input: result = Consolidator.output.summary }
  }
}
