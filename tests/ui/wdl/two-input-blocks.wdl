workflow w {
  input { files }
  call Pass { input: f = files }
  input { rows }
}
