# Every lexical error is reported in one go, not only the first.
workflow Lexical {
  call Pass {
    input: a = "no closing quote
           b = 01
           c = "a \q escape"
           d = $.trigger ; e = 1
  }
}
