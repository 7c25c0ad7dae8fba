workflow w {
  call Pass { input: first = rows[first] }
}
