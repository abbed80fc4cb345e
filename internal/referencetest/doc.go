// Package referencetest holds what the modules' reference tests share: a
// module holds its rendered Markdown reference to a golden section copied
// verbatim, after WithDescriptions adds the method descriptions that the
// golden text lacks.
package referencetest
