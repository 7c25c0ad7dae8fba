# Stages are named after their actor unless `as` names them.
workflow w {
  call Pass { input: a = trigger.a }
  call Pass { input: b = trigger.b }
}
