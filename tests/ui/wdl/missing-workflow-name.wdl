workflow {
  call Pass
}
