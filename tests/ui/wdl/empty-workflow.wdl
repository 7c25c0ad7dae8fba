workflow w {
  # nothing yet
}
