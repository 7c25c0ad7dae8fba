workflow w {
  # The run's input is `$.trigger`: no stage can take that name.
  call Pass as trigger { input: x = trigger.x }
}
