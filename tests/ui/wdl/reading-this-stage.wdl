workflow w {
  call Pass { input: again = Pass.output }
}
