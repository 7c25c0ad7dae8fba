workflow w {
  input { trigger }
  call Pass { input: all = trigger }
}
