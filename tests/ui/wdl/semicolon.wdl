workflow w {
  call Pass { input: a = trigger.a };
}
