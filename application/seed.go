package application

import (
	"context"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// DemoChannels is the demo data of `shuxinqian seed` (and of a new sandbox database).
func DemoChannels() []channel.Snapshot {
	return []channel.Snapshot{
		{
			Code: "q86804", Name: "东莞交易专家评标项目", Active: true, PersonalCertService: true, Method: channel.MethodID2,
			Catalog: []channel.Item{
				{SKU: "pkg-sign-50", Name: "签署套餐（50次）", Description: "50 次电子签署，1 年有效", Kind: channel.KindPackage,
					UnitPrice: kernel.Fen(15000), Grants: channel.Grants{Signatures: 50},
					Tax: channel.Tax{Code: "3040201000000000000", Category: "信息技术服务", Rate: kernel.TaxRate6}, Unit: "套", Spec: "50次/年"},
				{SKU: "pkg-sign-200", Name: "签署套餐（200次）", Description: "200 次电子签署，1 年有效", Kind: channel.KindPackage,
					UnitPrice: kernel.Fen(50000), Grants: channel.Grants{Signatures: 200},
					Tax: channel.Tax{Code: "3040201000000000000", Category: "信息技术服务", Rate: kernel.TaxRate6}, Unit: "套", Spec: "200次/年"},
				{SKU: "svc-personal-cert-1y", Name: "个人证书（1年）", Description: "个人数字证书服务 1 年", Kind: channel.KindService,
					UnitPrice: kernel.Fen(6000), Grants: channel.Grants{CertificateYears: 1},
					Tax: channel.Tax{Code: "3040205000000000000", Category: "信息技术服务", Rate: kernel.TaxRate6}, Unit: "项", Spec: "1年"},
				{SKU: "svc-org-cert-1y", Name: "机构证书（1年）", Description: "机构数字证书服务 1 年", Kind: channel.KindService,
					UnitPrice: kernel.Fen(30000), Grants: channel.Grants{CertificateYears: 1},
					Tax: channel.Tax{Code: "3040205000000000000", Category: "信息技术服务", Rate: kernel.TaxRate6}, Unit: "项", Spec: "1年"},
			},
		},
		{
			Code: "q10001", Name: "深圳公共资源交易示范渠道", Active: true, PersonalCertService: false, Method: channel.MethodFace,
			Catalog: []channel.Item{
				{SKU: "pkg-sign-100", Name: "签署套餐（100次）", Description: "100 次电子签署，1 年有效", Kind: channel.KindPackage,
					UnitPrice: kernel.Fen(28000), Grants: channel.Grants{Signatures: 100},
					Tax: channel.Tax{Code: "3040201000000000000", Category: "信息技术服务", Rate: kernel.TaxRate6}, Unit: "套", Spec: "100次/年"},
			},
		},
		{Code: "q99999", Name: "已停用示例渠道", Active: false, PersonalCertService: true, Method: channel.MethodID3},
	}
}

// DemoPlatform: charging is on, so the personal certificate needs a channel that offers it.
var DemoPlatform = channel.Platform{ChargingEnabled: true, DefaultMethod: channel.MethodID2}

// Seed loads the demo data; channels that exist are left as they are. It returns the codes added.
func (a *App) Seed(ctx context.Context) ([]string, error) {
	var added []string
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Channels().SavePlatform(ctx, DemoPlatform); err != nil {
			return err
		}
		for _, s := range DemoChannels() {
			if _, err := tx.Channels().GetByCode(ctx, s.Code); err == nil {
				continue
			} else if kernel.KindOf(err) != kernel.KindNotFound {
				return err
			}
			token, err := a.random.Token(16)
			if err != nil {
				return err
			}
			s.ID, s.QRToken, s.CreatedAt = kernel.ChannelID(a.ids.NewID()), token, a.clock.Now()
			c, err := channel.New(s)
			if err != nil {
				return err
			}
			if err := tx.Channels().Add(ctx, c); err != nil {
				return err
			}
			added = append(added, s.Code)
		}
		return nil
	})
	return added, err
}
