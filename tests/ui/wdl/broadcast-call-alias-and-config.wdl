workflow w {
  broadcast {
    input: message = trigger.message
    call EmailNotifier as email { config: { waitForAll: false } }
    call SlackNotifier
  }
}
