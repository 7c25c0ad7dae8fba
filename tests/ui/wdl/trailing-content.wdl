workflow w {
  call Pass
}
call Fail
