workflow w {
  call Pass { input: a = }
}
