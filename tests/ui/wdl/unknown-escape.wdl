workflow w {
  call Pass { input: path = "C:\data\files" }
}
