package scenario

// Category is a Citizen Lab test-lists category: a short code and what it
// stands for.
type Category struct {
	Code string // "NEWS"
	Name string // "News Media"
}

// Categories are the 31 category codes of the Citizen Lab test lists
// (lists/00-LEGEND-new_category_codes.csv in citizenlab/test-lists), in the
// order of that file. A site's Category must be one of these codes.
//
// Treat it as read-only.
var Categories = []Category{
	{"ALDR", "Alcohol & Drugs"},
	{"REL", "Religion"},
	{"PORN", "Pornography"},
	{"PROV", "Provocative Attire"},
	{"POLR", "Political Criticism"},
	{"HUMR", "Human Rights Issues"},
	{"ENV", "Environment"},
	{"MILX", "Terrorism and Militants"},
	{"HATE", "Hate Speech"},
	{"NEWS", "News Media"},
	{"XED", "Sex Education"},
	{"PUBH", "Public Health"},
	{"GMB", "Gambling"},
	{"ANON", "Anonymization and circumvention tools"},
	{"DATE", "Online Dating"},
	{"GRP", "Social Networking"},
	{"LGBT", "LGBT"},
	{"FILE", "File-sharing"},
	{"HACK", "Hacking Tools"},
	{"COMT", "Communication Tools"},
	{"MMED", "Media sharing"},
	{"HOST", "Hosting and Blogging Platforms"},
	{"SRCH", "Search Engines"},
	{"GAME", "Gaming"},
	{"CULTR", "Culture"},
	{"ECON", "Economics"},
	{"GOVT", "Government"},
	{"COMM", "E-commerce"},
	{"CTRL", "Control content"},
	{"IGO", "Intergovernmental Organizations"},
	{"MISC", "Miscellaneous content"},
}

// LookupCategory returns the category with the given code.
func LookupCategory(code string) (Category, bool) {
	for _, c := range Categories {
		if c.Code == code {
			return c, true
		}
	}
	return Category{}, false
}
