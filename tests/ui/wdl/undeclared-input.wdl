# With an input block, every name of the run's input must be declared.
workflow w {
  input { files }
  scatter (file in files) {
    call Pass { input: path = file.path, owner = user.name }
  }
}
