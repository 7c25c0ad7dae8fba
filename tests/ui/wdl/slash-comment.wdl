// troupe comments start with #
workflow w {
  call Pass
}
