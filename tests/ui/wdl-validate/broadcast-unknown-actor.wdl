workflow w {
  broadcast as notify-all {
    input: message = trigger.message
    call Pass
    call SmsNotifier
    call Pass
  }
}
