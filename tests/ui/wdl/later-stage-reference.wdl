workflow w {
  call Pass { input: data = Consolidator.output }
  call Consolidator
}
