# A string must close on its own line.
workflow w {
  call Pass { input: greeting = "hello }
}
