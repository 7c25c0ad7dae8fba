workflow w {
  input: files
  call Pass
}
