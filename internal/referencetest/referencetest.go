package referencetest

import (
	"strings"

	"github.com/authrpc/authrpc/rpc"
)

// WithDescriptions adds to a Markdown reference section the descriptions
// that methods give where the section has none, where the rendered
// reference puts them: right after the method's tabs. Modules use it to
// hold their rendered reference to a section that leaves methods
// undescribed.
func WithDescriptions(section string, methods []rpc.MethodInfo) string {
	const tabsEnd = "<!-- tabs:end -->\n"
	for _, m := range methods {
		d := strings.TrimSpace(m.Description)
		head := strings.Index(section, "\n### "+m.Title+"\n")
		if d == "" || head < 0 {
			continue
		}
		at := head + strings.Index(section[head:], tabsEnd) + len(tabsEnd)
		if !strings.HasPrefix(section[at:], "\n"+d+"\n") {
			section = section[:at] + "\n" + d + "\n" + section[at:]
		}
	}
	return section
}
